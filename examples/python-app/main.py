"""A tiny workload for the python example image: proves the runtime works,
runs as a non-root user, and can only write where it should."""
import os
import sys


def main() -> int:
    uid, gid = os.getuid(), os.getgid()
    print(f"hello from bulwark: python {sys.version.split()[0]}, uid={uid} gid={gid}")
    if uid == 0:
        print("error: running as root", file=sys.stderr)
        return 1
    try:
        with open("/etc/bulwark-write-test", "w") as f:
            f.write("x")
        print("error: the root filesystem is writable", file=sys.stderr)
        return 1
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

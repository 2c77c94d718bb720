"""``python -m mmseg_dsrl.upstream``: the upstream fixes and which are
active here."""
import mmseg_dsrl  # noqa: F401  (applies the fixes, as a config import does)
from mmseg_dsrl.upstream import list_fixes


def main() -> None:
    rows = list_fixes()
    print('| fix | package | affected versions | installed | active | bug |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['name']} | {r['package']} | {r['versions']} | "
              f"{r['installed']} | {'yes' if r['active'] else 'no'} | "
              f"{r['bug']} |")


if __name__ == '__main__':
    main()

"""The frozen app's entry script (PyInstaller runs it as ``__main__``): everything goes through gui.launch."""

import sys

from gui.launch import main

if __name__ == "__main__":
    sys.exit(main())

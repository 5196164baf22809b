"""The frozen app's entry script (PyInstaller runs it as ``__main__``): everything goes through gui.launch.

``freeze_support`` first: the chat-template check renders untrusted templates in a
spawned child process, which in a frozen app is this executable started again.
"""

import multiprocessing
import sys

from gui.launch import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

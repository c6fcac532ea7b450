import sys

from motion_retrieval.cli import main

sys.exit(main())

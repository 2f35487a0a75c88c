import sys

from ftstudio.cli import main

sys.exit(main())

import sys

from locallambda.cli import main

sys.exit(main())

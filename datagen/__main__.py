"""Entry point of ``python -m datagen``."""
import sys

from datagen.generate import main

sys.exit(main())

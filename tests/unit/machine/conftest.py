"""Make the helpers next to this file importable whatever pytest's import mode."""

import os
import sys

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

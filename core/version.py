"""pgen's version, in one place that every layer may import (pgen.__version__ reads it)."""
VERSION = "0.1.0"

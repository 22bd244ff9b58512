import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakebank.testing import EXAMPLES, bank, bank_url  # noqa: E402,F401

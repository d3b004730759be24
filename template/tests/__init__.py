"""The tests.

The garbage collector is off while pytest imports and collects them: what that builds
(modules, routes, schemas) lives as long as the run, and collecting while it is made is
wasted work, as in ``python -m`` (``__main__.py``). ``conftest.py`` freezes it and turns the
collector back on before the first test.
"""

import gc

gc.disable()

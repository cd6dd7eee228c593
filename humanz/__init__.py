"""humanz: a CNI bridge plugin and an rtnetlink library, in standard-library Python.

Importing this package costs nothing: every subpackage is imported only by the code that
needs it (the plugin is exec'd once per pod, so every import is latency).
"""

__version__ = "0.1.0"

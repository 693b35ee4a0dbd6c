"""An example netspec plugin: the ``GatedUnit`` layer kind (docs/plugins.md).

``kinds`` describes the kind without torch (what ``netspec check`` needs); ``modules`` holds its
``nn.Module``, imported by netspec's torch side only when it builds the network. Importing this
package registers the kind, so ``netspec --plugin netspec_example_plugin`` works too.
"""

from netspec_example_plugin.kinds import GatedUnit

__all__ = ["GatedUnit"]

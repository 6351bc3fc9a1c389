"""All configuration, in one place: the model zoo's ``train_config`` / ``eval_config``.

Keys and defaults are the MindSpore model zoo's (``src/config.py`` there), so a model-zoo user
finds what they know. They are stated once, with a help line and the allowed range of each key,
in ``src/config/schema.py``; these EasyDicts are built from it. Every key can be overridden on the
command line (``--batch_size 8`` or ``--DataConfig.batch_size 8``; ``python train.py --help``
lists them); see ``src/config/overrides.py``. Unknown keys are an error.
"""
from src.config.schema import MODEL_SIZES, eval_tree, train_tree  # noqa: F401  (MODEL_SIZES: the zoo's view)
from src.data.labels import DEFAULT_LABELS_PATH

LABELS_PATH = DEFAULT_LABELS_PATH  # labels.json beside the code, absolute

train_config = train_tree()
eval_config = eval_tree()

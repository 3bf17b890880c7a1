"""Synthetic raw data for tests, demos and the quality evaluation (never read by the product's models).

- :mod:`datagen.generate`   ``generate()`` and ``python -m datagen``
- :mod:`datagen.planted`    the first, easy planted-group setting
- :mod:`datagen.realistic`  the harder settings quality is judged on
- :mod:`datagen.tables`     the original export format and safe writing
- :mod:`datagen.messy`      dirty copies with their exact expected effect
"""

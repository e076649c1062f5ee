"""Training of the offline classifiers that ship in `agent/models/` (needs the `train` extra).

`make train-classifiers` = `python -m agent.train --data data/train --out agent/models`:
reads the training files kept in the repository (`data`), fits one logistic-regression head per task over the
hashed features of `agent.features` (`fit`), writes the artifacts and scores them on the
evaluation split (`evaluate`). Nothing here is imported at inference time.
"""

"""Single-image segmentation (``synthboost segment``) and the browser app (``synthboost app``).

``Segmenter.from_pretrained(path)(image, prompt)`` lives in :mod:`synthboost.evaluation.segmenter`. The
app is a Gradio ``Blocks`` page (:mod:`synthboost.app.ui`, optional extra ``synthboost[app]``) over
plain functions (:mod:`synthboost.app.analysis`), served by :mod:`synthboost.app.serve` with
upload, connection, Host/Origin and decoded-size limits (:mod:`synthboost.app.uploads`);
:mod:`synthboost.app.space` exports a model as a Hugging Face Space.
"""

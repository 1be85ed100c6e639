"""Single-image segmentation (``synthboost segment``) and the browser app (``synthboost app``).

``Segmenter.from_pretrained(path)(image, prompt)`` lives in :mod:`synthboost.evaluate.segmenter`; the
app is a standard-library HTTP server (:mod:`synthboost.app.server`) over
:class:`synthboost.app.service.AppService`.
"""

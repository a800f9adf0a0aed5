"""What people look at: the figures (``figures``) and the MLflow mirror of the files (``tracking``)."""

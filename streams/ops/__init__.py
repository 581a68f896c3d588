"""Operations over a running deployment: reconcile, reprocess, dictionary curation, evaluation."""

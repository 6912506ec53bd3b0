/// The read side: folds over the journal. Filled by the Projections issue.
public enum ProjectionsModule {}

/// The catalogue as a whole: its version is the one documented in docs/EVENTS.md.
public enum DomainCatalogue {
    /// Bumped when an event type is added or a schema version changes.
    public static let version = 1
}

extension Decide {
    /// Records evidence of abuse in its fingerprint stream.
    ///
    /// Guarded by `.any`: evidence obeys no invariant, and losing it to a version race would be
    /// worse than interleaving it.
    public static func recordEvidence(_ event: DomainEvent) throws(Rejection) -> PlannedAppend {
        guard let stream = event.homes.first, stream.kind == .fingerprint else {
            throw Rejection(.wrongStream, "\(event.typeName) is not evidence of abuse; it does not belong in a fingerprint stream")
        }
        return try plan([(stream, .any, event)])
    }
}

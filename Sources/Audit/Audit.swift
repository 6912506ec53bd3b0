/// Audit of a journal copy. Filled by the audit issue.
public enum AuditModule {}

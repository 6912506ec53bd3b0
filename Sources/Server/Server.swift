/// The socket server. Filled by the server issue.
public enum ServerModule {}

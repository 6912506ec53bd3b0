/// Simulated prefecture histories. Filled by the simulator issue.
public enum SimulatorModule {}

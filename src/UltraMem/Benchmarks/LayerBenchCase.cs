using UltraMem.Training;

namespace UltraMem.Benchmarks;

/// <summary>One measured configuration: a memory layer (dense or row-sparse value updates) or a SwiGLU FFN.</summary>
public sealed record LayerBenchCase(string Name, string Kind, long Rows, ValueUpdates ValueUpdates, int FfnHidden);

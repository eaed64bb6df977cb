namespace UltraMem.Data;

/// <summary>The file kinds a corpus can be read from: <c>.txt</c>, <c>.md</c>, <c>.jsonl</c>, each optionally gzipped.</summary>
public enum CorpusFileKind
{
    Unsupported,
    Text,
    Jsonl,
}

using System.Text.Json.Serialization;

namespace UltraMem.Data;

/// <summary>
/// The header of a token cache file (stored as JSON at its start): what the tokens are and where they came from.
/// </summary>
/// <param name="FormatVersion">Layout version, <see cref="TokenCache.FormatVersion"/>.</param>
/// <param name="DType">Element type of the tokens: <c>uint16</c> (vocabularies up to 65,536) or <c>int32</c>.</param>
/// <param name="TokenCount">Number of tokens, end-of-text separators included.</param>
/// <param name="DocumentCount">Number of documents encoded.</param>
/// <param name="VocabSize">Vocabulary size; every token is in [0, VocabSize).</param>
/// <param name="EndOfTextId">The token written after every document.</param>
/// <param name="TokenizerFingerprint">Identifies the tokenizer that produced the tokens.</param>
/// <param name="SourceHash">SHA-256 (hex) of the source documents' ids and texts, see <see cref="TokenCache.SourceHash"/>.</param>
/// <param name="TokenHash">SHA-256 (hex) of the token bytes, checked when the file is opened.</param>
public sealed record TokenCacheMeta(
    int FormatVersion,
    string DType,
    long TokenCount,
    long DocumentCount,
    int VocabSize,
    int EndOfTextId,
    string TokenizerFingerprint,
    string SourceHash,
    string TokenHash
)
{
    /// <summary>Bytes per token: 2 for <c>uint16</c>, 4 for <c>int32</c>.</summary>
    [JsonIgnore]
    public int ElementSize => DType == TokenCache.UInt16 ? 2 : 4;
}

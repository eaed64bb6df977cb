using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace UltraMem.Data;

/// <summary>
/// Writes and describes token cache files: the documents' tokens concatenated, each document followed
/// by the end-of-text token, as little-endian <c>uint16</c> (vocabularies up to 65,536) or <c>int32</c>.
/// <para>
/// Layout: the 8 ASCII bytes <c>UMTOKENS</c>, an int32 length, that many bytes of UTF-8 JSON
/// (<see cref="TokenCacheMeta"/>), zero padding up to <see cref="HeaderSize"/> bytes, then the tokens.
/// A file is written under a temporary name in the same folder and moved into place only when
/// complete, so an interrupted build never leaves a file at the target path (a previous one stays).
/// </para>
/// </summary>
public static class TokenCache
{
    /// <summary>The layout version written and accepted.</summary>
    public const int FormatVersion = 1;

    /// <summary>Bytes before the first token (a page, so the tokens are aligned for memory mapping).</summary>
    public const int HeaderSize = 4096;

    /// <summary>The <see cref="TokenCacheMeta.DType"/> names.</summary>
    public const string UInt16 = "uint16",
        Int32 = "int32";

    static ReadOnlySpan<byte> Magic => "UMTOKENS"u8;
    const int ChunkDocuments = 256;
    const long ChunkCharacters = 8 << 20;
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>
    /// Encodes <paramref name="docs"/> with <paramref name="encode"/> (called in parallel across documents;
    /// it must be thread-safe) and writes the cache to <paramref name="path"/>, keeping document order.
    /// <paramref name="progress"/> receives the fraction of characters encoded.
    /// </summary>
    public static TokenCacheMeta Build(
        string path,
        IEnumerable<Document> docs,
        Func<string, int[]> encode,
        int endOfTextId,
        int vocabSize,
        string tokenizerFingerprint,
        IProgress<double>? progress = null
    )
    {
        ArgumentNullException.ThrowIfNull(docs);
        ArgumentNullException.ThrowIfNull(encode);
        ArgumentNullException.ThrowIfNull(tokenizerFingerprint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        if ((uint)endOfTextId >= (uint)vocabSize)
            throw new ArgumentOutOfRangeException(nameof(endOfTextId), endOfTextId, $"must be in [0, {vocabSize})");
        var list = docs as IReadOnlyList<Document> ?? docs.ToList();
        if (list.Count == 0)
            throw new UltraMemException($"cannot build token cache {path}: there are no documents to encode");

        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            TokenCacheMeta meta;
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            {
                meta = WriteTokens(file, list, encode, endOfTextId, vocabSize, tokenizerFingerprint, progress);
                file.Position = 0;
                file.Write(EncodeHeader(meta, full));
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            progress?.Report(1.0);
            return meta;
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Whether <paramref name="path"/> is a complete, uncorrupted token cache made by the tokenizer with this
    /// fingerprint.</summary>
    public static bool IsValid(string path, string tokenizerFingerprint)
    {
        if (!File.Exists(path))
            return false;
        try
        {
            using var stream = TokenStream.Open(path, tokenizerFingerprint);
            return true;
        }
        catch (UltraMemException)
        {
            return false;
        }
    }

    /// <summary>The header of a token cache file (checking its magic, JSON and version, not its tokens).</summary>
    public static TokenCacheMeta ReadMeta(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return ReadHeader(file, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot read token cache {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>
    /// SHA-256 (hex) of the documents' ids and texts, in order: for each, the UTF-8 byte length of the id
    /// (int32 LE), the id, the UTF-8 byte length of the text (int64 LE), the text.
    /// </summary>
    public static string SourceHash(IEnumerable<Document> docs)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var d in docs)
            AppendDocument(hash, d);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    internal static TokenCacheMeta ReadHeader(FileStream file, string path)
    {
        Span<byte> head = stackalloc byte[12];
        if (file.Length < HeaderSize || file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length)
            throw new UltraMemException($"token cache {path} is truncated: {file.Length} bytes, shorter than its {HeaderSize}-byte header");
        if (!head[..8].SequenceEqual(Magic))
            throw new UltraMemException($"{path} is not a token cache file (it does not start with UMTOKENS)");
        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(head[8..]);
        if (jsonLength <= 0 || jsonLength > HeaderSize - 12)
            throw new UltraMemException($"token cache {path} has a corrupt header (header length {jsonLength})");
        var json = new byte[jsonLength];
        file.ReadExactly(json);

        TokenCacheMeta? meta;
        try
        {
            meta = JsonSerializer.Deserialize<TokenCacheMeta>(json, Json);
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"token cache {path} has a corrupt header (unreadable JSON)", e);
        }
        if (meta is null || meta.DType is null || meta.TokenizerFingerprint is null || meta.TokenHash is null || meta.SourceHash is null)
            throw new UltraMemException($"token cache {path} has a corrupt header (fields missing)");
        if (meta.FormatVersion != FormatVersion)
            throw new UltraMemException(
                $"token cache {path} has format version {meta.FormatVersion}; this build reads version {FormatVersion} — rebuild it"
            );
        if (
            meta.DType != (meta.VocabSize <= 65536 ? UInt16 : Int32)
            || meta.VocabSize <= 0
            || meta.TokenCount < 0
            || meta.DocumentCount < 0
        )
            throw new UltraMemException(
                $"token cache {path} has a corrupt header (dtype {meta.DType}, vocabulary {meta.VocabSize}, {meta.TokenCount} tokens)"
            );
        return meta;
    }

    static TokenCacheMeta WriteTokens(
        FileStream file,
        IReadOnlyList<Document> docs,
        Func<string, int[]> encode,
        int endOfTextId,
        int vocabSize,
        string fingerprint,
        IProgress<double>? progress
    )
    {
        bool narrow = vocabSize <= 65536;
        using var sourceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var tokenHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long totalChars = Math.Max(1, docs.Sum(d => (long)d.Text.Length)),
            doneChars = 0,
            tokenCount = 0;
        file.Position = HeaderSize;
        var buffer = new byte[1 << 16];

        for (int start = 0; start < docs.Count; )
        {
            int end = start;
            long chars = 0;
            while (end < docs.Count && end - start < ChunkDocuments && (chars == 0 || chars + docs[end].Text.Length <= ChunkCharacters))
                chars += docs[end++].Text.Length;

            var encoded = EncodeChunk(docs, start, end, encode);
            for (int i = start; i < end; i++)
            {
                AppendDocument(sourceHash, docs[i]);
                int[] tokens = encoded[i - start];
                foreach (int t in tokens)
                    if ((uint)t >= (uint)vocabSize)
                        throw new UltraMemException(
                            $"the encoder returned token id {t} for document '{docs[i].Id}', outside the vocabulary [0, {vocabSize})"
                        );
                WriteSpan(file, tokenHash, tokens, narrow, buffer);
                WriteSpan(file, tokenHash, [endOfTextId], narrow, buffer);
                tokenCount += tokens.Length + 1;
            }
            doneChars += chars;
            progress?.Report(Math.Min(0.999, (double)doneChars / totalChars));
            start = end;
        }
        return new TokenCacheMeta(
            FormatVersion,
            narrow ? UInt16 : Int32,
            tokenCount,
            docs.Count,
            vocabSize,
            endOfTextId,
            fingerprint,
            Convert.ToHexStringLower(sourceHash.GetHashAndReset()),
            Convert.ToHexStringLower(tokenHash.GetHashAndReset())
        );
    }

    /// <summary>Encodes documents [start, end) in parallel; a failure names the first failing document.</summary>
    static int[][] EncodeChunk(IReadOnlyList<Document> docs, int start, int end, Func<string, int[]> encode)
    {
        var result = new int[end - start][];
        var errors = new Exception?[end - start];
        Parallel.For(
            start,
            end,
            i =>
            {
                try
                {
                    result[i - start] = encode(docs[i].Text) ?? throw new InvalidOperationException("the encoder returned null");
                }
                catch (Exception e)
                {
                    errors[i - start] = e;
                }
            }
        );
        for (int i = 0; i < errors.Length; i++)
            if (errors[i] is { } e)
                throw new UltraMemException($"encoding document '{docs[start + i].Id}' failed: {e.Message.ReplaceLineEndings(" ")}", e);
        return result;
    }

    static void WriteSpan(FileStream file, IncrementalHash hash, ReadOnlySpan<int> tokens, bool narrow, byte[] buffer)
    {
        int size = narrow ? 2 : 4,
            perBuffer = buffer.Length / size;
        for (int offset = 0; offset < tokens.Length; offset += perBuffer)
        {
            var part = tokens.Slice(offset, Math.Min(perBuffer, tokens.Length - offset));
            var bytes = buffer.AsSpan(0, part.Length * size);
            if (narrow)
                for (int i = 0; i < part.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], (ushort)part[i]);
            else
                for (int i = 0; i < part.Length; i++)
                    BinaryPrimitives.WriteInt32LittleEndian(bytes[(4 * i)..], part[i]);
            file.Write(bytes);
            hash.AppendData(bytes);
        }
    }

    static byte[] EncodeHeader(TokenCacheMeta meta, string path)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(meta, Json);
        if (json.Length > HeaderSize - 12)
            throw new UltraMemException(
                $"cannot build token cache {path}: its header ({json.Length} bytes; is the tokenizer fingerprint very long?) exceeds {HeaderSize - 12} bytes"
            );
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), json.Length);
        json.CopyTo(header, 12);
        return header;
    }

    static void AppendDocument(IncrementalHash hash, Document d)
    {
        Span<byte> length = stackalloc byte[8];
        byte[] id = Encoding.UTF8.GetBytes(d.Id),
            text = Encoding.UTF8.GetBytes(d.Text);
        BinaryPrimitives.WriteInt32LittleEndian(length, id.Length);
        hash.AppendData(length[..4]);
        hash.AppendData(id);
        BinaryPrimitives.WriteInt64LittleEndian(length, text.Length);
        hash.AppendData(length);
        hash.AppendData(text);
    }
}

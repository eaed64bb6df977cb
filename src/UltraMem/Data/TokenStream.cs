using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;

namespace UltraMem.Data;

/// <summary>
/// A read-only, memory-mapped view of a token cache file written by <see cref="TokenCache.Build"/>.
/// Opening checks the header, the exact file length, the tokenizer fingerprint and (by default) the
/// checksum of the tokens; any problem is an <see cref="UltraMemException"/>. Reads are thread-safe.
/// </summary>
public sealed unsafe class TokenStream : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _tokens;
    readonly bool _narrow;
    bool _disposed;

    /// <summary>The file's header.</summary>
    public TokenCacheMeta Meta { get; }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>Number of tokens.</summary>
    public long Count => Meta.TokenCount;

    TokenStream(string path, TokenCacheMeta meta, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* tokens)
    {
        Path = path;
        Meta = meta;
        _map = map;
        _view = view;
        _tokens = tokens;
        _narrow = meta.ElementSize == 2;
    }

    /// <summary>
    /// Opens <paramref name="path"/>. When <paramref name="expectedFingerprint"/> is not null the file must have
    /// been built by that tokenizer; <paramref name="verifyContent"/> re-hashes the tokens (SHA-256) against the header.
    /// </summary>
    public static TokenStream Open(string path, string? expectedFingerprint, bool verifyContent = true)
    {
        if (!File.Exists(path))
            throw new UltraMemException($"token cache not found: {System.IO.Path.GetFullPath(path)}");
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot open token cache {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        TokenStream? stream = null;
        try
        {
            var meta = TokenCache.ReadHeader(file, path);
            long expected = TokenCache.HeaderSize + meta.TokenCount * meta.ElementSize;
            if (file.Length < expected)
                throw new UltraMemException($"token cache {path} is truncated: {file.Length:N0} bytes, its header promises {expected:N0}");
            if (file.Length > expected)
                throw new UltraMemException(
                    $"token cache {path} is corrupt: {file.Length - expected:N0} bytes more than its header describes"
                );
            if (expectedFingerprint is not null && meta.TokenizerFingerprint != expectedFingerprint)
                throw new UltraMemException(
                    $"token cache {path} was built by tokenizer '{meta.TokenizerFingerprint}', not the expected '{expectedFingerprint}'; rebuild it"
                );

            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            stream = new TokenStream(path, meta, map, view, pointer + view.PointerOffset + TokenCache.HeaderSize);
            if (verifyContent && stream.ContentHash() != meta.TokenHash)
                throw new UltraMemException($"token cache {path} is corrupt: its tokens do not match the checksum in its header");
            return stream;
        }
        catch (Exception e)
        {
            if (stream is not null)
                stream.Dispose();
            else
            {
                view?.Dispose();
                map?.Dispose();
            }
            file.Dispose();
            if (e is UltraMemException)
                throw;
            throw new UltraMemException($"cannot open token cache {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>The token at position <paramref name="i"/>.</summary>
    public int this[long i]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if ((ulong)i >= (ulong)Count)
                throw new ArgumentOutOfRangeException(nameof(i), i, $"must be in [0, {Count})");
            return _narrow ? ((ushort*)_tokens)[i] : ((int*)_tokens)[i];
        }
    }

    /// <summary>Copies the tokens [start, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<long> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (start < 0 || start > Count - destination.Length)
            throw new ArgumentOutOfRangeException(
                nameof(start),
                start,
                $"the range [{start}, {start + destination.Length}) is outside [0, {Count})"
            );
        if (_narrow)
        {
            var source = new ReadOnlySpan<ushort>((ushort*)_tokens + start, destination.Length);
            for (int i = 0; i < source.Length; i++)
                destination[i] = source[i];
        }
        else
        {
            var source = new ReadOnlySpan<int>((int*)_tokens + start, destination.Length);
            for (int i = 0; i < source.Length; i++)
                destination[i] = source[i];
        }
    }

    string ContentHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = Count * Meta.ElementSize;
        for (long offset = 0; offset < bytes; offset += 1 << 30)
            hash.AppendData(new ReadOnlySpan<byte>(_tokens + offset, (int)Math.Min(1 << 30, bytes - offset)));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}

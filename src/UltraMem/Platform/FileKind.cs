using System.Runtime.InteropServices;

namespace UltraMem.Platform;

/// <summary>What a path names, from the file's own metadata without following a final link, and without opening it:
/// opening a FIFO blocks until a writer appears, and a device such as <c>/dev/zero</c> never ends.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    SymbolicLink,

    /// <summary>A FIFO, socket, character or block device.</summary>
    Special,
}

/// <summary>Reads <see cref="FileKind"/> through Linux's <c>statx</c>, whose record layout is the same on every
/// architecture (.NET's <see cref="FileAttributes"/> call a FIFO or a device a normal file).</summary>
public static class FileKinds
{
    const int AtFdCwd = -100,
        AtSymlinkNoFollow = 0x100;
    const uint StatxType = 0x1;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    static extern unsafe int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    public static unsafe FileKind Of(string path)
    {
        if (!OperatingSystem.IsLinux())
            return File.Exists(path) ? FileKind.Regular
                : System.IO.Directory.Exists(path) ? FileKind.Directory
                : FileKind.Missing;
        byte* buffer = stackalloc byte[256]; // struct statx: 256 bytes, stx_mode (u16) at offset 28
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
            return FileKind.Missing;
        int mode = *(ushort*)(buffer + 28) & 0xF000;
        return mode switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.SymbolicLink,
            _ => FileKind.Special,
        };
    }
}

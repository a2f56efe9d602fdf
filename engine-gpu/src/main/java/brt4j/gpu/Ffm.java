package brt4j.gpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/** Downcall handles from a library's symbols: the few lines every binding shares. */
public final class Ffm {
    private static final Linker LINKER = Linker.nativeLinker();

    private final SymbolLookup lib;
    private final String libName;

    public Ffm(SymbolLookup lib, String libName) {
        this.lib = lib;
        this.libName = libName;
    }

    /** A handle for {@code name} returning {@code ret} (null: void). */
    public MethodHandle fn(String name, MemoryLayout ret, MemoryLayout... args) {
        var sym = lib.find(name).orElseThrow(() -> new GpuException(libName + " has no symbol " + name
                + ": the library is too old for brt4j"));
        FunctionDescriptor fd = ret == null ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(ret, args);
        return LINKER.downcallHandle(sym, fd);
    }

    /** Like {@link #fn} but null when the symbol is missing. */
    public MethodHandle optional(String name, MemoryLayout ret, MemoryLayout... args) {
        return lib.find(name).isPresent() ? fn(name, ret, args) : null;
    }
}

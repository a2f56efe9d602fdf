package brt4j.gpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What {@code --device auto} says about a GPU it did not use: the reason, not the folders searched. */
class DevicesTest {
    @Test void aMissingLibraryIsNamedWithoutTheFoldersSearched() {
        assertEquals("the CUDA driver (libcuda.so.1) not found (--device cuda says where it looked)",
                Devices.brief("the CUDA driver (libcuda.so.1) not found: looked for libcuda.so(.d+)* in [/usr/lib, /opt/cuda/lib64]"
                        + " and for [libcuda.so.1] through the system loader. Install it, or point CUDA_HOME at its folder."));
        assertEquals("the CUDA driver found no device", Devices.brief("the CUDA driver found no device\nsecond line"));
    }
}

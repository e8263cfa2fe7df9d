"""Virtual serial devices for tests: each runs on the master side of a pseudo-terminal in a thread and speaks
the real wire protocol (headers, checksums, byte stuffing), so the library is tested through the real SDK
and pyserial on the slave side. Test code only: the library never imports it."""

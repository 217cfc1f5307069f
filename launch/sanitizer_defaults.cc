// Linked into the test binaries, and into the cfps executable when CFPS_SANITIZE is on: under ASan,
// Open MPI's own allocations at exit look like leaks and its dlclose'd components defeat the fast
// unwinder; these defaults suppress exactly those libraries (see ../shared/TOOLCHAIN.md, section 4)
// so that a leak of ours still fails the integration tests that run cfps under mpirun. Without ASan
// they are unused. The names are the sanitizers' hooks, hence reserved identifiers.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0:detect_leaks=1"; }
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libpmix.so\n"
         "leak:libhwloc.so\nleak:libevent\nleak:mca_\n";
}
// NOLINTEND(bugprone-reserved-identifier)

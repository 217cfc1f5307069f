# Sourced by the scripts: Open MPI settings for a single machine (see README.md, "Open MPI").
# Running as root needs the two ALLOW variables; more ranks than cores needs oversubscribe;
# shared memory without CMA single-copy is about 3x faster for large messages on VMs, and with
# 128 KB fragments instead of 32 KB a step's rows (1.6 MB at batch 4096) cross 18% faster.
# tests/CMakeLists.txt runs the MPI tests with the defaults of the `export NAME=${NAME:-value}`
# lines below: keep that form.
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OMPI_MCA_btl_vader_max_send_size=${OMPI_MCA_btl_vader_max_send_size:-131072}
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export GTEST_COLOR=${GTEST_COLOR:-no}

# Sourced by the scripts: Open MPI settings for a single machine (see README.md, "Open MPI").
# Running as root needs the two ALLOW variables; more ranks than cores needs oversubscribe;
# shared memory without CMA single-copy is about 3x faster for large messages on VMs.
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export GTEST_COLOR=${GTEST_COLOR:-no}

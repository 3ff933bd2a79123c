// Command airgap_node is the small binary behind the modules that run on every node
// (offline_repo_config, offline_probe): no registry or OCI code, so it stays a fraction of
// plugins/bin/airgap_linux_<arch>. The build links plugins/modules/<module>_linux_<arch> to
// plugins/bin/airgap_node_linux_<arch>, and the binary runs the module it is called as; the
// bundle's bin/offline_repo_config_linux_<arch> (bootstrap.sh) is a copy of it under that name.
package main

import (
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	probemod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_probe"
	repoconfigmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_repo_config"
)

// modules are the modules this binary runs; the Makefile's NODE lists the same names.
var modules = []*module.Module{
	repoconfigmod.Module,
	probemod.Module,
}

func main() { module.MultiMain(modules...) }

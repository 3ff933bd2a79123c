// Command airgap is the one binary behind the collection's admin-side modules: the build
// links plugins/modules/<module>_linux_<arch> to plugins/bin/airgap_linux_<arch>, and the
// binary runs the module it is called as. By hand: `airgap offline_file_fetch --help`.
package main

import (
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	filefetch "github.com/airgap-kubespray/airgap.kubespray/modules/offline_file_fetch"
	imagepullmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_pull"
	imagepushmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_push"
	imagescanmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_scan"
	verifymod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_verify"
)

// modules are the modules this binary runs; every modules/offline_*/ package is one of them.
var modules = []*module.Module{
	filefetch.Module,
	imagepullmod.Module,
	imagepushmod.Module,
	imagescanmod.Module,
	verifymod.Module,
}

func main() { module.MultiMain(modules...) }

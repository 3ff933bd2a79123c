package repoconf

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsupportedOS: the host's os-release names a distribution or release not supported.
var ErrUnsupportedOS = errors.New("unsupported operating system")

// Package managers.
const (
	Apt = "apt"
	Dnf = "dnf" // dnf or yum: both read /etc/yum.repos.d
)

// OS is what /etc/os-release says, and what follows from it.
type OS struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id"`
	Codename  string `json:"codename,omitempty"`
	Family    string `json:"family"`           // Apt or Dnf
	Deb822    bool   `json:"deb822,omitempty"` // apt sources in deb822 .sources files
}

// DetectOS reads root/etc/os-release (or root/usr/lib/os-release): Ubuntu 20.04, 22.04,
// 24.04 and later, Debian 11, 12, 13, RHEL, Rocky, AlmaLinux 8, 9, 10, and Fedora. Both are
// read inside root: a link leading out of it is not followed.
func DetectOS(root string) (OS, error) {
	var kv map[string]string
	t, err := open(root)
	if err != nil {
		return OS{}, err
	}
	defer t.Close()
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		if kv, err = readOSRelease(t, p); err == nil {
			break
		}
	}
	if err != nil {
		return OS{}, fmt.Errorf("reading os-release under %s: %w", root, err)
	}
	o := OS{ID: kv["ID"], VersionID: kv["VERSION_ID"], Codename: kv["VERSION_CODENAME"]}
	major, minor := version(o.VersionID)
	switch o.ID {
	case "ubuntu":
		o.Family = Apt
		if !(major == 20 && minor == 4 || major == 22 && minor == 4 || major >= 24) {
			return o, fmt.Errorf("%w: Ubuntu %s (supported: 20.04, 22.04, 24.04 and later)", ErrUnsupportedOS, o.VersionID)
		}
		o.Deb822 = major >= 24
	case "debian":
		o.Family = Apt
		if major < 11 {
			return o, fmt.Errorf("%w: Debian %s (supported: 11, 12, 13)", ErrUnsupportedOS, o.VersionID)
		}
		o.Deb822 = major >= 12
	case "rhel", "rocky", "almalinux":
		o.Family = Dnf
		if major < 8 || major > 10 {
			return o, fmt.Errorf("%w: %s %s (supported: 8, 9, 10)", ErrUnsupportedOS, o.ID, o.VersionID)
		}
	case "fedora":
		o.Family = Dnf
	default:
		name := kv["PRETTY_NAME"]
		if name == "" {
			name = o.ID + " " + o.VersionID
		}
		return o, fmt.Errorf("%w: %s (supported: Ubuntu 20.04/22.04/24.04, Debian 11/12/13, RHEL/Rocky/AlmaLinux 8/9/10, Fedora)", ErrUnsupportedOS, name)
	}
	return o, nil
}

func readOSRelease(t tree, name string) (map[string]string, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		kv[k] = v
	}
	return kv, sc.Err()
}

func version(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	major, _ = strconv.Atoi(parts[0])
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}

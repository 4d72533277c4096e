import Foundation

/// The commented starter vm.yaml that `seedgen init` writes: valid as it stands, every section
/// explained, optional settings shown commented out.
public enum StarterFile {
    public static func text(name: String, vmid: Int) -> String {
        """
        # seedgen VM file (schema version 1). Check it with `seedgen validate \(name).yaml`,
        # build it with `seedgen build \(name).yaml -o out`. Reference: README.md, "vm.yaml reference".
        name: \(name)                   # DNS name; the host name is its first label
        vmid: \(vmid)                      # 100..999999999, free on the cluster
        # node: pve01                  # deploy.sh refuses to run on any other node
        # description: What this VM is for
        # tags: [web]

        image: ubuntu-24.04            # `seedgen image list` shows the catalog; or {url:, sha256:} or {path:}

        hardware:
          cores: 2
          memory: 2G
          # bios: ovmf                 # UEFI: adds efidisk0, seed CD on SATA
          disk:
            size: 20G                  # final boot disk size (at least the image's virtual size)
            storage: local-lvm

        storage:
          iso: local                   # receives the seed ISO (needs `iso` content)
          import: local                # receives the image before import (`import` content on PVE 8.3+)

        network:
          # nameservers: [1.1.1.1]
          # search: [example.com]
          interfaces:
            - bridge: vmbr0
              ipv4: dhcp               # or 192.0.2.10/24 with gateway4: 192.0.2.1
              # ipv6: slaac

        cloud_init:
          users:
            - name: ops
              ssh_authorized_keys_file: ~/.ssh/id_ed25519.pub
              # password_file: secrets/ops.pass   # plaintext read at build time, stored as a SHA-512 hash
              sudo: "ALL=(ALL) NOPASSWD:ALL"
              shell: /bin/bash
          packages: [qemu-guest-agent]
          runcmd: ["systemctl enable --now qemu-guest-agent"]

        """
    }
}

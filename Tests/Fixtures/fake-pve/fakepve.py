#!/usr/bin/env python3
"""A fake Proxmox VE node for testing seedgen's deploy.sh.

The shims beside this file (qm, pvesm, pvesh, pveversion, hostname, id) call it with their own
name first. State lives in $FAKE_PVE_STATE:

  node.json      what the node is: {"version": "8.2.4", "hostname": "pve01", "uid": 0,
                 "storages": {"local": {"type": "dir", "status": "active", "content": [...]}, ...},
                 "remote_vmids": [9001], "resize_fails": false}
  vms/<id>.json  each VM on this node: {"config": {key: value}, "status": "stopped"}
  storage/<id>/  the files of each dir storage (template/iso, snippets, import)
  calls.jsonl    every call, one JSON array per line: [tool, arg, ...]

Answers and exit codes follow /work/shared/reference/proxmox.md: failures die with exit 255,
`qm disk resize` exits 0 even when its task fails, `qm config` URL-encodes the description.
`qm create`/`qm set` options are checked against qm-options.json ($FAKE_PVE_QM_OPTIONS).
"""

import hashlib
import json
import os
import re
import sys
import urllib.parse

STATE = os.environ.get("FAKE_PVE_STATE")
if not STATE:
    sys.stderr.write("fake-pve: FAKE_PVE_STATE is not set\n")
    sys.exit(97)


def load_node():
    with open(os.path.join(STATE, "node.json")) as handle:
        return json.load(handle)


NODE = load_node()
VERSION = tuple(int(part) for part in NODE.get("version", "8.2.4").split(".")[:2])


def die(message, code=255):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)


def param_error(key, message):
    die("400 Parameter verification failed.\n%s: %s" % (key, message))


def record(tool, args):
    with open(os.path.join(STATE, "calls.jsonl"), "a") as handle:
        handle.write(json.dumps([tool] + list(args)) + "\n")


def vm_path(vmid):
    return os.path.join(STATE, "vms", "%s.json" % vmid)


def load_vm(vmid):
    path = vm_path(vmid)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def save_vm(vmid, vm):
    os.makedirs(os.path.join(STATE, "vms"), exist_ok=True)
    with open(vm_path(vmid), "w") as handle:
        json.dump(vm, handle, indent=1, sort_keys=True)


def require_vm(vmid):
    vm = load_vm(vmid)
    if vm is None:
        die("Configuration file 'nodes/%s/qemu-server/%s.conf' does not exist" % (NODE.get("hostname", "pve"), vmid))
    return vm


def format_size(size):
    """PVE::JSONSchema::format_size."""
    if size % 1024:
        return str(size)
    kib = size // 1024
    if kib % 1024:
        return "%dK" % kib
    mib = kib // 1024
    if mib % 1024:
        return "%dM" % mib
    gib = mib // 1024
    if gib % 1024:
        return "%dG" % gib
    return "%dT" % (gib // 1024)


def parse_size(text):
    match = re.fullmatch(r"(\+?)(\d+(?:\.\d+)?)([KMGT]?)", text)
    if not match:
        return None
    factor = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[match.group(3)]
    return match.group(1) == "+", int(float(match.group(2)) * factor)


def encode_text(text):
    """PVE::Tools::encode_text: control and non-ASCII bytes, ':' and '%' become %XX."""
    out = []
    for byte in text.encode("utf-8"):
        if byte < 0x20 or byte >= 0x7F or byte in (ord(":"), ord("%")):
            out.append("%%%02X" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


# --- storages -----------------------------------------------------------------

def storages():
    return NODE.get("storages", {})


def storage_dir(storage_id):
    return os.path.join(STATE, "storage", storage_id)


VTYPE_PATTERNS = {
    "iso": (r"iso/([^/]+\.(?i:iso|img))", "template/iso"),
    "snippets": (r"snippets/([^/]+)", "snippets"),
    "import": (r"import/([^/]+\.(?:ova|ovf|qcow2|raw|vmdk))", "import"),
}


def resolve_volume(volid):
    """(storage, vtype, path) of a file volume, dying like pvesm path does."""
    storage_id, _, volname = volid.partition(":")
    storage = storages().get(storage_id)
    if storage is None:
        die("storage '%s' does not exist" % storage_id)
    if storage.get("type", "dir") != "dir":
        die("unable to parse lvm volume name '%s'" % volname)
    for vtype, (pattern, subdir) in VTYPE_PATTERNS.items():
        match = re.fullmatch(pattern, volname)
        if match:
            if vtype == "import" and VERSION < (8, 3):
                break
            return storage_id, vtype, os.path.join(storage_dir(storage_id), subdir, match.group(1))
    die("unable to parse directory volume name '%s'" % volname)


def pvesm(args):
    if args[:1] == ["status"]:
        options = parse_options(args[1:])
        content = options.get("content")
        if content is not None:
            allowed = ["images", "rootdir", "vztmpl", "iso", "backup", "snippets"] + (["import"] if VERSION >= (8, 3) else [])
            if content not in allowed:
                param_error("content", "value '%s' does not have a value in the enumeration '%s'" % (content, ", ".join(allowed)))
        rows = []
        for storage_id, storage in sorted(storages().items()):
            if content is not None and content not in storage.get("content", []):
                continue
            if "enabled" in options and storage.get("status") == "disabled":
                continue
            rows.append((storage_id, storage))
        if "storage" in options:
            rows = [row for row in rows if row[0] == options["storage"]]
            if not rows:
                param_error("storage", "No such storage.")
        print("%-16s %8s %8s %16s %16s %16s %8s" % ("Name", "Type", "Status", "Total", "Used", "Available", "%"))
        for storage_id, storage in rows:
            print("%-16s %8s %8s %16d %16d %16d %7.2f%%" % (
                storage_id, storage.get("type", "dir"), storage.get("status", "active"), 100000000, 1000000, 99000000, 1.0))
        return 0
    if args[:1] == ["path"] and len(args) == 2:
        print(resolve_volume(args[1])[2])
        return 0
    if args[:1] == ["set"]:
        die("fake-pve: pvesm set is not something deploy.sh may run", 99)
    die("USAGE: pvesm <COMMAND> [ARGS] [OPTIONS]")


# --- qm -----------------------------------------------------------------------

def parse_options(args):
    options = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-"):
            die("400 too many arguments")
        key = arg.lstrip("-")
        if index + 1 >= len(args) or (args[index + 1].startswith("--") and key in ("enabled",)):
            options[key] = "1"
            index += 1
            continue
        options[key] = args[index + 1]
        index += 2
    return options


def load_option_schema():
    path = os.environ.get("FAKE_PVE_QM_OPTIONS")
    if not path:
        die("fake-pve: FAKE_PVE_QM_OPTIONS is not set", 97)
    with open(path) as handle:
        return json.load(handle)


def schema_key(key):
    match = re.fullmatch(r"(scsi|virtio|sata|ide|net|ipconfig|serial)(\d+)", key)
    if match:
        limits = {"scsi": 30, "virtio": 15, "sata": 5, "ide": 3, "net": 31, "ipconfig": 31, "serial": 3}
        if int(match.group(2)) > limits[match.group(1)]:
            return None
        return match.group(1) + "N"
    if key == "memory" and VERSION < (8, 1):
        return "memory_pre_8.1"
    return key


def check_option(schema, key, value):
    if key == "ciupgrade" and VERSION < (8, 0):
        param_error(key, "property is not defined in schema and the schema does not allow additional properties")
    entry = schema.get(schema_key(key) or "")
    if entry is None or key.startswith("_"):
        param_error(key, "property is not defined in schema and the schema does not allow additional properties")
    if not re.search(entry["regex"], value):
        param_error(key, "invalid format - value '%s' does not match %s" % (value, schema_key(key)))


DRIVE_KEY = re.compile(r"(scsi|virtio|sata|ide)\d+|efidisk0")


def drive_parts(value):
    parts = value.split(",")
    volume = parts[0]
    if volume.startswith("file=") or volume.startswith("volume="):
        volume = volume.split("=", 1)[1]
    options = {}
    for part in parts[1:]:
        name, _, option_value = part.partition("=")
        options[name] = option_value
    return volume, options


def next_disk_name(vmid, config):
    used = set()
    for value in config.values():
        match = re.search(r"vm-%s-disk-(\d+)" % vmid, str(value))
        if match:
            used.add(int(match.group(1)))
    index = 0
    while index in used:
        index += 1
    return "vm-%s-disk-%d" % (vmid, index)


def storage_with_content(storage_id, content, key):
    storage = storages().get(storage_id)
    if storage is None:
        param_error(key, "storage '%s' does not exist" % storage_id)
    if content not in storage.get("content", []):
        param_error(key, "storage '%s' does not support content type '%s'" % (storage_id, content))
    return storage


def apply_drive(vmid, config, key, value):
    volume, options = drive_parts(value)
    rest = ",".join("%s=%s" % (name, option_value) for name, option_value in options.items() if name != "import-from")
    storage_id, _, volname = volume.partition(":")
    if "import-from" in options:
        if VERSION < (7, 2):
            param_error(key, "invalid format - format error %s.import-from: property is not defined in schema" % key)
        source = options["import-from"]
        if source.startswith("/"):
            if not os.path.isfile(source):
                die("import-from source '%s' does not exist" % source)
            source_path = source
        else:
            source_storage, source_vtype, source_path = resolve_volume(source)
            if source_vtype not in ("import",):
                die("%s: %s has wrong type '%s' - needs to be 'images' or 'import'" % (key, source, source_vtype))
            if source_vtype not in storages()[source_storage].get("content", []):
                die("storage '%s' does not support content type '%s'" % (source_storage, source_vtype))
            if not os.path.isfile(source_path):
                die("volume '%s' does not exist" % source)
        storage_with_content(storage_id, "images", key)
        size = os.path.getsize(source_path)
        name = next_disk_name(vmid, config)
        config[key] = "%s:%s%s,size=%s" % (storage_id, name, "," + rest if rest else "", format_size(size))
        return
    if volname == "cloudinit":
        storage_with_content(storage_id, "images", key)
        if any("vm-%s-cloudinit" % vmid in str(other) for other in config.values()):
            die("cloud-init drive is already attached")
        config[key] = "%s:vm-%s-cloudinit,media=cdrom" % (storage_id, vmid)
        return
    if key == "efidisk0" or re.fullmatch(r"\d+(\.\d+)?", volname):
        storage_with_content(storage_id, "images", key)
        size = 4 << 20 if key == "efidisk0" else int(float(volname) * (1 << 30))
        name = next_disk_name(vmid, config)
        config[key] = "%s:%s%s,size=%s" % (storage_id, name, "," + rest if rest else "", format_size(size))
        return
    storage_id, vtype, path = resolve_volume(volume)
    if vtype == "iso":
        if VERSION >= (8, 4) and options.get("media") != "cdrom":
            param_error(key, "explicit 'media=cdrom' is required for iso images")
        if "iso" not in storages()[storage_id].get("content", []):
            die("storage '%s' does not support content type 'iso'" % storage_id)
    if not os.path.isfile(path):
        die("volume '%s' does not exist" % volume)
    config[key] = value


def normalize_tags(value):
    tags = sorted(set(tag.lower() for tag in re.split(r"[,;\s]+", value) if tag))
    return ";".join(tags)


def apply_options(vmid, config, options, creating):
    schema = load_option_schema()
    for key, value in options.items():
        if key in ("pool",) and not creating:
            param_error(key, "property is not defined in schema and the schema does not allow additional properties")
        if key == "start":
            die("fake-pve: deploy.sh must not use qm create --start", 99)
        if key == "sshkeys":
            if not os.path.isfile(value):
                die("sshkeys: file '%s' does not exist" % value)
            with open(value, "rb") as handle:
                keys = handle.read().decode("utf-8")
            value = urllib.parse.quote(keys, safe="-._~")
            check_option(schema, key, value)
            config[key] = value
            continue
        check_option(schema, key, value)
        if DRIVE_KEY.fullmatch(key):
            apply_drive(vmid, config, key, value)
        elif key == "tags":
            config[key] = normalize_tags(value)
        elif key == "cipassword":
            if not creating and not re.match(r"^\$(?:[156]|2[ay])(\$.+){2}", value):
                value = "$5$fakesalt$" + hashlib.sha256(value.encode()).hexdigest()
            config[key] = value
        else:
            config[key] = value


def qm(args):
    if not args:
        die("USAGE: qm <COMMAND> [ARGS] [OPTIONS]")
    command = args[0]
    if command == "disk":
        if VERSION < (7, 3):
            die("unknown command 'qm disk'")
        if args[1:2] == ["resize"]:
            return qm_resize(args[2:])
        die("unknown command 'qm disk %s'" % " ".join(args[1:2]))
    if command == "resize":
        return qm_resize(args[1:])
    if len(args) < 2 or not re.fullmatch(r"[1-9][0-9]{2,8}", args[1]):
        die("400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID")
    vmid = args[1]
    if command == "create":
        if load_vm(vmid) is not None or int(vmid) in NODE.get("remote_vmids", []):
            die("unable to create VM %s - VM %s already exists on node '%s'" % (vmid, vmid, NODE.get("hostname", "pve")))
        config = {}
        options = parse_options(args[2:])
        apply_options(vmid, config, options, creating=True)
        if "pool" in options and options["pool"] not in NODE.get("pools", []):
            die("pool '%s' does not exist" % options["pool"])
        config.pop("pool", None)
        config["smbios1"] = "uuid=00000000-0000-4000-8000-%012d" % int(vmid)
        save_vm(vmid, {"config": config, "status": "stopped"})
        return 0
    if command == "set":
        vm = require_vm(vmid)
        apply_options(vmid, vm["config"], parse_options(args[2:]), creating=False)
        save_vm(vmid, vm)
        return 0
    if command == "config":
        vm = require_vm(vmid)
        for key in sorted(vm["config"]):
            value = vm["config"][key]
            if key == "description":
                value = encode_text(value)
            elif key == "cipassword":
                value = "**********"
            print("%s: %s" % (key, value))
        return 0
    if command == "status":
        vm = require_vm(vmid)
        print("status: %s" % vm["status"])
        return 0
    if command == "start":
        vm = require_vm(vmid)
        if vm["status"] == "running":
            die("VM %s already running" % vmid)
        vm["status"] = "running"
        save_vm(vmid, vm)
        return 0
    die("unknown command 'qm %s'" % command)


def qm_resize(args):
    if len(args) != 3:
        die("400 not enough arguments")
    vmid, disk, size_text = args
    vm = require_vm(vmid)
    parsed = parse_size(size_text)
    if parsed is None:
        param_error("size", "value does not match the regex pattern")
    relative, amount = parsed
    value = vm["config"].get(disk)
    if value is None:
        die("disk '%s' does not exist" % disk)
    match = re.search(r"size=([^,]+)", value)
    current = parse_size(match.group(1))[1] if match else 0
    target = current + amount if relative else amount
    # Like the real qm: the task error is printed, but the exit code is 0.
    if NODE.get("resize_fails") or target < current:
        sys.stderr.write("TASK ERROR: shrinking disks is not supported\n" if target < current else "TASK ERROR: resize failed\n")
        return 0
    vm["config"][disk] = re.sub(r"size=[^,]+", "size=" + format_size(target), value) if match else value + ",size=" + format_size(target)
    save_vm(vmid, vm)
    return 0


# --- the rest -----------------------------------------------------------------

def pvesh(args):
    if args[:2] == ["get", "/cluster/nextid"]:
        options = parse_options(args[2:])
        taken = set(int(name[:-5]) for name in os.listdir(os.path.join(STATE, "vms")) if name.endswith(".json")) \
            if os.path.isdir(os.path.join(STATE, "vms")) else set()
        taken |= set(NODE.get("remote_vmids", []))
        if "vmid" in options:
            if int(options["vmid"]) in taken:
                param_error("vmid", "VM %s already exists" % options["vmid"])
            print(options["vmid"])
            return 0
        candidate = 100
        while candidate in taken:
            candidate += 1
        print(candidate)
        return 0
    die("No 'get' handler defined for '%s'" % " ".join(args[1:2]))


def main():
    tool, args = sys.argv[1], sys.argv[2:]
    record(tool, args)
    if tool == "qm":
        return qm(args)
    if tool == "pvesm":
        return pvesm(args)
    if tool == "pvesh":
        return pvesh(args)
    if tool == "pveversion":
        print("pve-manager/%s/0123456789abcdef (running kernel: 6.8.12-1-pve)" % NODE.get("version", "8.2.4"))
        return 0
    if tool == "hostname":
        print(NODE.get("hostname", "pve"))
        return 0
    if tool == "id":
        if args == ["-u"]:
            print(NODE.get("uid", 0))
            return 0
        os.execv("/usr/bin/id", ["id"] + args)
    die("fake-pve: unknown tool %s" % tool, 97)


if __name__ == "__main__":
    sys.exit(main())

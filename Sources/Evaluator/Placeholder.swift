import HostModel

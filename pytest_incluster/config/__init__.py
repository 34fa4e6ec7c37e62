"""Where the cluster is and who we are: discovered the way a pod sees it. No pytest imports."""

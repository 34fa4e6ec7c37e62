"""Admission: what the cluster admits and refuses after authorization, and why (issue 15)."""

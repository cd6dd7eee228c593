"""The CNI protocol, with no kernel work: request, config, result, errors, delegation.

Importing the package imports nothing else: each command loads only the modules it uses.
"""

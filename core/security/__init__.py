"""A station fit for a plant network: secrets kept out of files and logs (``secrets``), users and roles
(``users``), the OPC UA certificates and trust list (``pki``), image retention (``retention``)."""

delivers nothing today: the title line "Ransomware Incident IOCs,Other context" is taken as the header ("no indicator column in the header"); sectioned report-style CSV is issue #12

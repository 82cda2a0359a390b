delivers nothing today: the first line is taken as a header ("no indicator column in the header"); report-style text reading is issue #12

-- Sales channels (Web, Mobile, Magasin), labels trimmed so that a slicer shows each channel once.
SELECT
    c.ID_Canal,
    trim(c.Nom_Canal) AS Nom_Canal,
    trim(c."Type") AS "Type"
FROM {{ source('Dim_Canal') }} c

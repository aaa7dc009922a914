-- Every client ID with the ID that survives the de-duplication: the same person registered twice shares an
-- e-mail, and the lowest ID is kept, so that nothing that referenced a duplicate is lost (it is remapped).
SELECT
    c.ID_Client,
    MIN(c.ID_Client) OVER (
        PARTITION BY COALESCE(lower(trim(c.Email)), concat('id:', CAST(c.ID_Client AS VARCHAR)))
    ) AS ID_Client_Survivant
FROM {{ source('Dim_Client') }} c
